"""pytest --nbval book/: the kernels nbval starts inherit TQDM_DISABLE=1.

Progress bars write to stderr, which nbval would compare against the committed outputs
(that have none); `goldilocks book` executes chapters the same way (book.execute). Setting it
here, rather than in CI, makes the README's `make test` pass in any environment.
"""
import os

os.environ["TQDM_DISABLE"] = "1"
