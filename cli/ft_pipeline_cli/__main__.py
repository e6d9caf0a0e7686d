"""`python -m ft_pipeline_cli ...`"""

import sys

from ft_pipeline_cli.main import main

sys.exit(main())
