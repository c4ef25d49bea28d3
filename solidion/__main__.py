import sys

from solidion.cli import main

sys.exit(main())
