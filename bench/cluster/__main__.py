import sys

from bench.cluster.run import main

sys.exit(main())
