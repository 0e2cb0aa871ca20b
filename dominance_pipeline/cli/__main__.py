import sys

from dominance_pipeline.cli import main

sys.exit(main())
