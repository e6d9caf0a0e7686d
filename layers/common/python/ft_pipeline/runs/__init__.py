"""The runs API's logic: list, show, stop and submit runs, over the ledger, the bucket and the bus."""
