"""`ft-pipeline`: a command-line tool for the pipeline's runs API (submit, follow, stop and report on runs).

It depends on the standard library (and botocore/boto3 for SigV4 signing against a deployed stack) only: it does
not import the pipeline's layer (`ft_pipeline`); the few constants it shares with it are copied in `constants`
and a unit test checks they have not drifted.
"""

__version__ = "0.1.0"
