import sys

from budgetmlagent.cli import main

sys.exit(main())
