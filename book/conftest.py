"""pytest --nbval book/: the kernels nbval starts inherit TQDM_DISABLE=1.

Progress bars write to stderr, which nbval would compare against the committed outputs
(that have none); `goldilocks book` executes chapters the same way (book.execute). Setting it
here, rather than in CI, makes the README's `make test` pass in any environment.
"""
import os

os.environ["TQDM_DISABLE"] = "1"

# nbval never compares images (it skips image/png and image/jpeg), but a figure glued with
# myst-nb arrives under papermill's record prefix, which nbval does not recognise as an image:
# a PNG re-rendered by another matplotlib, freetype or backend setting would fail the page.
_GLUED_IMAGES = tuple(f"application/papermill.record/{kind}"
                      for kind in ("image/png", "image/jpeg", "image/svg+xml"))


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        notebook = getattr(item, "parent", None)
        skip = getattr(notebook, "skip_compare", None)
        if skip is not None and _GLUED_IMAGES[0] not in skip:
            notebook.skip_compare = tuple(skip) + _GLUED_IMAGES
