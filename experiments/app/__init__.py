"""The browser app (Solara), served by `solara run app.py` from the repository's root.

- `page`: the page's layout, buttons and views (imports solara: the `app` extra);
- `controls`: the parameters, the presets they start from, their check through `Config`;
- `inputs`: a set of control values checked on the server as `--set` is;
- `session`: a browser session's model, its no-crypto twin, the play thread and its lock;
- `viz`: the pictures and texts (market graph, time series, status, agencies);
- `image.vue`: the front end's image that reports clicks.
"""
