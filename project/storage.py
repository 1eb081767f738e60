"""Static files for production: whitenoise's hashed, compressed copies."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """The page's ES modules import each other by relative path; Django rewrites those
    imports to the hashed names too, so every module can be cached forever and a browser
    never mixes a new module with an old one after a deploy."""

    support_js_module_import_aggregation = True
