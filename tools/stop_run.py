"""Ask a deployed stack to stop a run: `make stop-run STACK=ft-pipeline-dev RUN_ID=<id>`.

Puts a StopRequested event on the stack's pipeline bus (found from the stack's outputs); the stack stops
the run's Bedrock job (or makes sure it never starts), and the run ends as TRAINING_STOPPED. Uses your AWS
credentials, like the AWS CLI. The equivalent with the AWS CLI:

  aws events put-events --entries '[{"EventBusName": "<PipelineBusName>", "Source": "ft-pipeline.user",
    "DetailType": "StopRequested", "Detail": "{\\"run_id\\": \\"<id>\\"}"}]'
"""

from __future__ import annotations

import argparse
import getpass

import boto3

from ft_pipeline.contracts import StopRequested, StopRequestedDetail, put_events_entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--run-id", "--dataset-id", dest="run_id", required=True)
    args = parser.parse_args()
    outputs = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]["Outputs"]
    bus = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "PipelineBusName")
    detail = StopRequestedDetail(run_id=args.run_id, requested_by=getpass.getuser())
    result = boto3.client("events").put_events(Entries=[put_events_entry(detail, StopRequested, bus)])
    if result["FailedEntryCount"]:
        print(f"could not send the request: {result['Entries'][0]}")
        return 1
    print(f"stop requested for {args.run_id} on {bus}; follow it in the ledger")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
