import sys

from .cli import main  # light: numpy and the theory load inside main(), under its Ctrl-C handler

sys.exit(main())
