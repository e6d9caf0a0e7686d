"""The run lifecycle in one place: the states, every allowed transition, and what each waiting state waits on.

A transition is applied by name (`LedgerTable.apply`), as one conditional write that also records its
event in the run's outbox; an undeclared or planned transition is refused. No step spells its own
allowed-from sets: they are here. The README's state diagram and table are generated from this module
(`python tools/make_state_diagram.py`; a test fails when they drift).

Two kinds of waiting:
- on one of our own steps (validator, job start): the run holds a *lease* (owner, deadline, attempt). A step
  that dies leaves its lease to lapse; the sweeper then asks for a retry (`StepRetryRequested`), and after
  `MAX_ATTEMPTS` ends the run with a reason.
- on the outside world (a Bedrock job): events are best effort, so the sweeper asks the owner to look
  every period, whatever arrived.

The paid serving resource has its own small lifecycle (`ServingState`) inside the run record, so the run
state never has to combine "evaluating" with "deleting".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class RunState(StrEnum):
    VALIDATING = "VALIDATING"
    VALIDATED = "VALIDATED"
    REJECTED = "REJECTED"
    TRAINING_STARTING = "TRAINING_STARTING"  # intent recorded: the job's name is known, the job may not exist yet
    TRAINING = "TRAINING"
    STOPPING = "STOPPING"  # a user asked to stop; the job is being stopped
    TRAINED = "TRAINED"
    TRAINING_FAILED = "TRAINING_FAILED"
    TRAINING_STOPPED = "TRAINING_STOPPED"
    DEPLOYING = "DEPLOYING"  # intent recorded (the serving resource's name, mode, deadline); then created, polled
    DEPLOYMENT_QUEUED = "DEPLOYMENT_QUEUED"  # the account's no-commitment PT limit is reached: waits for a free one
    DEPLOYED = "DEPLOYED"
    DEPLOYMENT_FAILED = "DEPLOYMENT_FAILED"
    COMPLETED = "COMPLETED"
    STOPPED = "STOPPED"  # a user stopped the run after training: whatever it created is deleted
    EVALUATING = "EVALUATING"
    EVALUATED = "EVALUATED"
    EVALUATION_FAILED = "EVALUATION_FAILED"
    # a model folder uploaded under models/ (Custom Model Import): checked, then imported by Bedrock
    IMPORT_WAITING = "IMPORT_WAITING"  # the manifest is there, not every file it lists (at its size): until a deadline
    IMPORTING = "IMPORTING"  # the job's name is recorded; then the job exists and is polled (no event exists)
    IMPORTED = "IMPORTED"
    IMPORT_FAILED = "IMPORT_FAILED"


class ServingState(StrEnum):
    """The paid serving resource (provisioned throughput or on-demand deployment) of a run."""

    NONE = "none"
    CREATING = "creating"
    ACTIVE = "active"
    DELETING = "deleting"
    DELETED = "deleted"


class Step(StrEnum):
    """Who owns a transition: the step whose logic applies it (whatever triggered that step)."""

    VALIDATE = "validate"
    START_TRAINING = "start_training"
    TRAINING_STATUS = "training_status"
    STOP = "stop"
    SWEEP = "sweep"
    DEPLOY = "deploy"
    EVALUATE = "evaluate"
    TEARDOWN = "teardown"
    IMPORT = "import"


class Guard(StrEnum):
    """What the conditional write checks besides the current state."""

    NONE = "none"
    HOLDER = "holder"  # the caller holds the run's lease
    TAKEOVER = "takeover"  # the lease the caller read is still there, and it has lapsed


class LeaseChange(StrEnum):
    KEEP = "keep"
    TAKE = "take"  # the transition sets a new lease (owner, deadline, attempt)
    CLEAR = "clear"


INITIAL = "(new)"  # the source of the transition that creates the record
MAX_ATTEMPTS = 3  # a step that died this many times ends the run with a reason instead of a fourth try


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: RunState
    owner: Step
    event: str | None = None  # detail-type of the event it emits (recorded in the outbox by the same write)
    guard: Guard = Guard.NONE
    lease: LeaseChange = LeaseChange.KEEP
    planned: bool = False  # declared for a step not built yet; the ledger refuses it
    why: str = ""


def _t(name: str, sources: set[str], target: RunState, owner: Step, event: str | None = None, *,
       guard: Guard = Guard.NONE, lease: LeaseChange = LeaseChange.KEEP, planned: bool = False,
       why: str = "") -> Transition:
    return Transition(name, frozenset(sources), target, owner, event, guard, lease, planned, why)


S = RunState
_TRAINING_IN_FLIGHT = {S.TRAINING_STARTING, S.TRAINING}

TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    # --- validation (an upload under incoming/) ----------------------------------------------------------
    _t("validation_claimed", {INITIAL}, S.VALIDATING, Step.VALIDATE, lease=LeaseChange.TAKE,
       why="the first delivery of an upload claims its run"),
    _t("validation_taken_over", {S.VALIDATING}, S.VALIDATING, Step.VALIDATE, guard=Guard.TAKEOVER,
       lease=LeaseChange.TAKE, why="a retry takes over from an attempt that died or gave its lease back"),
    _t("validation_released", {S.VALIDATING}, S.VALIDATING, Step.VALIDATE, guard=Guard.HOLDER,
       lease=LeaseChange.TAKE, why="a failed attempt gives its lease back so that the retry can start at once"),
    _t("validation_passed", {S.VALIDATING}, S.VALIDATED, Step.VALIDATE, "DatasetValidated", guard=Guard.HOLDER,
       lease=LeaseChange.TAKE, why="splits written; the job start now owes the run a claim"),
    _t("validation_rejected", {S.VALIDATING}, S.REJECTED, Step.VALIDATE, "DatasetRejected", guard=Guard.HOLDER,
       lease=LeaseChange.CLEAR, why="the dataset or its options are unusable; the report says why"),
    _t("validation_redriven", {S.VALIDATING}, S.VALIDATING, Step.SWEEP, "StepRetryRequested", guard=Guard.TAKEOVER,
       lease=LeaseChange.TAKE, why="the validator died (timeout, memory) and its lease lapsed"),
    _t("validation_abandoned", {S.VALIDATING}, S.REJECTED, Step.SWEEP, "DatasetRejected", guard=Guard.TAKEOVER,
       lease=LeaseChange.CLEAR, why=f"the validator died {MAX_ATTEMPTS} times"),
    # --- starting the Bedrock job --------------------------------------------------------------------------
    _t("training_claimed", {S.VALIDATED}, S.TRAINING_STARTING, Step.START_TRAINING, lease=LeaseChange.TAKE,
       why="the job's name is recorded before CreateModelCustomizationJob"),
    _t("training_start_taken_over", {S.TRAINING_STARTING}, S.TRAINING_STARTING, Step.START_TRAINING,
       guard=Guard.TAKEOVER, lease=LeaseChange.TAKE, why="a retry takes over from a start that died"),
    _t("training_start_released", {S.TRAINING_STARTING}, S.TRAINING_STARTING, Step.START_TRAINING,
       guard=Guard.HOLDER, lease=LeaseChange.TAKE, why="a start that failed gives its lease back for the retry"),
    _t("training_started", {S.TRAINING_STARTING}, S.TRAINING, Step.START_TRAINING, "CustomizationStarted",
       lease=LeaseChange.CLEAR, why="the job exists (created now, or found by its name)"),
    _t("training_start_failed", {S.TRAINING_STARTING}, S.TRAINING_FAILED, Step.START_TRAINING, "TrainingFailed",
       guard=Guard.HOLDER, lease=LeaseChange.CLEAR, why="Bedrock refused the job, or its options are invalid"),
    _t("training_start_redriven", {S.VALIDATED}, S.VALIDATED, Step.SWEEP, "StepRetryRequested",
       guard=Guard.TAKEOVER, lease=LeaseChange.TAKE, why="DatasetValidated never led to a claim"),
    _t("training_start_retried", {S.TRAINING_STARTING}, S.TRAINING_STARTING, Step.SWEEP, "StepRetryRequested",
       guard=Guard.TAKEOVER, lease=LeaseChange.TAKE, why="the start died before its job existed"),
    _t("training_start_abandoned", {S.VALIDATED, S.TRAINING_STARTING}, S.TRAINING_FAILED, Step.SWEEP,
       "TrainingFailed", guard=Guard.TAKEOVER, lease=LeaseChange.CLEAR,
       why=f"the start died {MAX_ATTEMPTS} times and no job exists"),
    # --- the job's outcome (Bedrock's event, or the sweeper asking GetModelCustomizationJob) ---------------
    _t("training_completed", _TRAINING_IN_FLIGHT, S.TRAINED, Step.TRAINING_STATUS, "ModelTrained",
       lease=LeaseChange.TAKE, why="the job completed: custom model and loss curves recorded; the deploy step "
                                   "now owes the run a claim"),
    _t("training_failed", _TRAINING_IN_FLIGHT | {S.STOPPING}, S.TRAINING_FAILED, Step.TRAINING_STATUS,
       "TrainingFailed", lease=LeaseChange.CLEAR, why="the job failed"),
    _t("training_stopped", _TRAINING_IN_FLIGHT | {S.STOPPING}, S.TRAINING_STOPPED, Step.TRAINING_STATUS,
       "TrainingFailed", lease=LeaseChange.CLEAR, why="the job was stopped"),
    _t("training_completed_after_stop", {S.STOPPING}, S.TRAINING_STOPPED, Step.TRAINING_STATUS, "TrainingFailed",
       lease=LeaseChange.CLEAR, why="the job finished before the stop took effect: the model is kept, "
                                    "nothing after training runs"),
    # --- stop requests -----------------------------------------------------------------------------------------
    _t("stopped_before_training", {S.VALIDATING, S.VALIDATED}, S.TRAINING_STOPPED, Step.STOP, "TrainingFailed",
       lease=LeaseChange.CLEAR, why="stopped before any job was claimed: none ever starts (a validator still "
                                    "running finds its outcome refused)"),
    _t("stop_requested", _TRAINING_IN_FLIGHT, S.STOPPING, Step.STOP,
       why="recorded before StopModelCustomizationJob; a start that finds it stops its own job"),
    _t("stopped_before_job_existed", {S.STOPPING}, S.TRAINING_STOPPED, Step.STOP, "TrainingFailed",
       guard=Guard.TAKEOVER, lease=LeaseChange.CLEAR, why="the stop landed mid-start and the start died "
                                                          "before creating the job"),
    # --- deployment (ModelTrained) and teardown ---------------------------------------------------------------
    _t("completed_without_deployment", {S.TRAINED}, S.COMPLETED, Step.DEPLOY, "RunCompleted",
       lease=LeaseChange.CLEAR, why="deployment.mode none: the run ends at the trained model"),
    _t("deployment_requested", {S.TRAINED}, S.DEPLOYING, Step.DEPLOY, "DeploymentStarted", lease=LeaseChange.TAKE,
       why="name, mode and deadline recorded before the create call"),
    _t("deployment_start_taken_over", {S.DEPLOYING}, S.DEPLOYING, Step.DEPLOY, guard=Guard.TAKEOVER,
       lease=LeaseChange.TAKE, why="a retry takes over from a deploy that died before its resource existed"),
    _t("deployment_start_released", {S.DEPLOYING}, S.DEPLOYING, Step.DEPLOY, guard=Guard.HOLDER,
       lease=LeaseChange.TAKE, why="a create that failed gives its lease back for the retry"),
    _t("deployment_created", {S.DEPLOYING}, S.DEPLOYING, Step.DEPLOY, lease=LeaseChange.CLEAR,
       why="the resource exists (created now, or found by its name): the sweeper polls it"),
    _t("deployment_queued", {S.DEPLOYING}, S.DEPLOYMENT_QUEUED, Step.DEPLOY, "DeploymentQueued",
       lease=LeaseChange.CLEAR, why="the account's two no-commitment PTs are taken (deployment.on_pt_quota wait)"),
    _t("deployment_dequeued", {S.DEPLOYMENT_QUEUED}, S.DEPLOYING, Step.SWEEP, "StepRetryRequested",
       lease=LeaseChange.TAKE, why="a PT is free again"),
    _t("deployment_redriven", {S.TRAINED}, S.TRAINED, Step.SWEEP, "StepRetryRequested", guard=Guard.TAKEOVER,
       lease=LeaseChange.TAKE, why="ModelTrained never led to a deployment"),
    _t("deployment_start_retried", {S.DEPLOYING}, S.DEPLOYING, Step.SWEEP, "StepRetryRequested",
       guard=Guard.TAKEOVER, lease=LeaseChange.TAKE, why="the deploy died before its resource existed"),
    _t("deployment_ready", {S.DEPLOYING}, S.DEPLOYED, Step.DEPLOY, "ModelDeployed", lease=LeaseChange.TAKE,
       why="InService / Active; the next step owes the run a claim"),
    _t("deployment_failed", {S.TRAINED, S.DEPLOYING, S.DEPLOYMENT_QUEUED}, S.DEPLOYMENT_FAILED, Step.DEPLOY,
       "DeploymentFailed", lease=LeaseChange.CLEAR,
       why="refused, Failed, past its deadline, never started, or the PT quota (on_pt_quota fail): what was "
           "created is deleted"),
    _t("run_completed", {S.DEPLOYED}, S.COMPLETED, Step.TEARDOWN, "RunCompleted", lease=LeaseChange.CLEAR,
       why="no evaluation (evaluation.enabled false, or it never started): the deployment is deleted"),
    _t("run_stopped", {S.TRAINED, S.DEPLOYING, S.DEPLOYMENT_QUEUED, S.DEPLOYED, S.EVALUATING, S.EVALUATED, S.IMPORTED,
                        S.IMPORT_WAITING}, S.STOPPED,
       Step.STOP, "RunStopped", lease=LeaseChange.CLEAR,
       why="a user's stop after training: what was created is deleted"),
    # --- evaluation (ModelDeployed): chunks fanned out over a queue, the last one writes the report --------------
    _t("evaluation_start_redriven", {S.DEPLOYED}, S.DEPLOYED, Step.SWEEP, "StepRetryRequested",
       guard=Guard.TAKEOVER, lease=LeaseChange.TAKE, why="ModelDeployed never led to an evaluation"),
    _t("evaluation_started", {S.DEPLOYED}, S.EVALUATING, Step.EVALUATE, lease=LeaseChange.TAKE,
       why="the test sample is stored and its chunks are queued; the lease is the evaluation's deadline"),
    _t("evaluation_redriven", {S.EVALUATING}, S.EVALUATING, Step.SWEEP, guard=Guard.TAKEOVER, lease=LeaseChange.TAKE,
       why="chunks still missing when the lease lapsed are queued again (stored ones are kept)"),
    _t("evaluation_completed", {S.EVALUATING}, S.EVALUATED, Step.EVALUATE, "EvaluationCompleted",
       lease=LeaseChange.TAKE, why="every chunk is stored: the report is written and the quality gate judged"),
    _t("evaluation_failed", {S.EVALUATING}, S.EVALUATION_FAILED, Step.EVALUATE, "EvaluationFailed",
       lease=LeaseChange.CLEAR, why="chunks still missing after every retry: the deployment is deleted"),
    _t("evaluated_run_completed", {S.EVALUATED}, S.COMPLETED, Step.TEARDOWN, "RunCompleted",
       lease=LeaseChange.CLEAR, why="the deployment is kept if asked for and the gate passed, otherwise deleted"),
    # --- Custom Model Import (a model folder under models/): checked, imported, evaluated on demand -----------
    _t("import_waiting", {INITIAL}, S.IMPORT_WAITING, Step.IMPORT, lease=LeaseChange.TAKE,
       why="the manifest is there, some files it lists are not (or not at their sizes yet): the lease is the upload's "
           "deadline"),
    _t("import_claimed", {INITIAL}, S.IMPORTING, Step.IMPORT, lease=LeaseChange.TAKE,
       why="every listed file is there: the folder's run is claimed and the job's name recorded before the checks"),
    _t("import_waiting_claimed", {S.IMPORT_WAITING}, S.IMPORTING, Step.IMPORT, lease=LeaseChange.TAKE,
       why="the last listed file arrived: the run is claimed (one conditional write: one of the last events wins)"),
    _t("import_wait_expired", {S.IMPORT_WAITING}, S.IMPORT_WAITING, Step.SWEEP, "StepRetryRequested",
       guard=Guard.TAKEOVER, lease=LeaseChange.TAKE, why="the upload's deadline passed: the folder is looked at again"),
    _t("import_wait_rejected", {S.IMPORT_WAITING}, S.REJECTED, Step.IMPORT, "ModelRejected", guard=Guard.HOLDER,
       lease=LeaseChange.CLEAR, why="past the deadline, files are still missing (or not at their sizes): the "
                                    "checks' verdict lists them, and what the folder holds that the manifest does not"),
    _t("import_wait_abandoned", {S.IMPORT_WAITING}, S.REJECTED, Step.SWEEP, "ModelRejected", guard=Guard.TAKEOVER,
       lease=LeaseChange.CLEAR, why=f"the folder could not be looked at in {MAX_ATTEMPTS} attempts"),
    _t("import_taken_over", {S.IMPORTING}, S.IMPORTING, Step.IMPORT, guard=Guard.TAKEOVER, lease=LeaseChange.TAKE,
       why="a retry takes over from a start that died or gave its lease back"),
    _t("import_start_released", {S.IMPORTING}, S.IMPORTING, Step.IMPORT, guard=Guard.HOLDER,
       lease=LeaseChange.TAKE, why="a create that failed gives its lease back for the retry"),
    _t("import_rejected", {S.IMPORTING}, S.REJECTED, Step.IMPORT, "ModelRejected", guard=Guard.HOLDER,
       lease=LeaseChange.CLEAR, why="the folder breaks what Bedrock documents for import: every problem is listed"),
    _t("import_checked", {S.IMPORTING}, S.IMPORTING, Step.IMPORT, guard=Guard.HOLDER,
       why="the folder passed the checks: the verdict, the test set and the options are recorded before the create"),
    _t("import_stop_requested", {S.IMPORTING}, S.IMPORTING, Step.STOP,
       why="Bedrock has no StopModelImportJob: the stop is recorded; no job is created after it, and a job already "
           "running ends the run as STOPPED when it completes"),
    _t("import_stopped", {S.IMPORTING, S.IMPORTED}, S.STOPPED, Step.IMPORT, "RunStopped", lease=LeaseChange.CLEAR,
       why="a stop was recorded: before the create (no job is made), or the job has completed (its model is kept)"),
    _t("import_started", {S.IMPORTING}, S.IMPORTING, Step.IMPORT, "ImportStarted", lease=LeaseChange.CLEAR,
       why="the job exists (created now, or found by its name): the sweeper polls it"),
    _t("import_start_failed", {S.IMPORTING}, S.IMPORT_FAILED, Step.IMPORT, "ImportFailed", guard=Guard.HOLDER,
       lease=LeaseChange.CLEAR, why="Bedrock refused the job (its role, its quota, the request)"),
    _t("import_start_retried", {S.IMPORTING}, S.IMPORTING, Step.SWEEP, "StepRetryRequested", guard=Guard.TAKEOVER,
       lease=LeaseChange.TAKE, why="the start died before its job existed"),
    _t("import_start_abandoned", {S.IMPORTING}, S.IMPORT_FAILED, Step.SWEEP, "ImportFailed", guard=Guard.TAKEOVER,
       lease=LeaseChange.CLEAR, why=f"the start died {MAX_ATTEMPTS} times and no job exists"),
    _t("import_completed", {S.IMPORTING}, S.IMPORTED, Step.IMPORT, "ModelImported", lease=LeaseChange.TAKE,
       why="GetModelImportJob says Completed: the imported model is recorded; the evaluation owes it a claim"),
    _t("import_failed", {S.IMPORTING}, S.IMPORT_FAILED, Step.IMPORT, "ImportFailed", lease=LeaseChange.CLEAR,
       why="GetModelImportJob says Failed (Bedrock's message is the reason)"),
    _t("imported_evaluation_redriven", {S.IMPORTED}, S.IMPORTED, Step.SWEEP, "StepRetryRequested",
       guard=Guard.TAKEOVER, lease=LeaseChange.TAKE, why="ModelImported never led to an evaluation"),
    _t("imported_evaluation_started", {S.IMPORTED}, S.EVALUATING, Step.EVALUATE, lease=LeaseChange.TAKE,
       why="the imported model is asked on demand (no provisioned throughput): the same evaluation as a trained one"),
    _t("imported_run_completed", {S.IMPORTED}, S.COMPLETED, Step.TEARDOWN, "RunCompleted", lease=LeaseChange.CLEAR,
       why="no test set in the manifest (or the evaluation never started): the run ends at the imported model"),
)}

# the serving resource's own lifecycle; every state but none/deleted may bill. Any write that sets
# `serving.state` is conditioned on the current state being one of its sources (the ledger adds it).
SERVING_TRANSITIONS: dict[ServingState, frozenset[ServingState]] = {  # target <- sources
    ServingState.CREATING: frozenset({ServingState.NONE}),
    ServingState.NONE: frozenset({ServingState.CREATING}),  # queued at the PT quota: nothing was created
    ServingState.ACTIVE: frozenset({ServingState.CREATING}),
    # failed, deadline, stop, done; or found alive after it was recorded deleted (created after its teardown)
    ServingState.DELETING: frozenset({ServingState.CREATING, ServingState.ACTIVE, ServingState.DELETED}),
    ServingState.DELETED: frozenset({ServingState.CREATING, ServingState.DELETING}),  # gone (or never created)
}
PAID_SERVING = frozenset({ServingState.CREATING, ServingState.ACTIVE, ServingState.DELETING})


@dataclass(frozen=True)
class Wait:
    """What a run in a non-terminal state waits on, what moves it, and whether the sweeper looks at it."""

    on: str
    triggers: tuple[str, ...]  # events that reach the owning step
    swept: bool  # the sweeper looks at every run in this state, every period
    stuck_after: timedelta  # longer than this in the state is reported (RunsStuck, an alarm): a person looks
    retry_after: timedelta | None = None  # leased waits: how long a retry request is given before the next


WAITS: dict[RunState, Wait] = {
    # leased waits end by themselves within MAX_ATTEMPTS leases (about an hour for the validator)
    S.VALIDATING: Wait("the validator (lease: the invocation's deadline)", ("Object Created", "StepRetryRequested"),
                       swept=True, stuck_after=timedelta(hours=2), retry_after=timedelta(minutes=20)),
    S.VALIDATED: Wait("the job start claiming the run", ("DatasetValidated", "StepRetryRequested"), swept=True,
                      stuck_after=timedelta(hours=2), retry_after=timedelta(minutes=15)),
    S.TRAINING_STARTING: Wait("CreateModelCustomizationJob (lease: the invocation's deadline)",
                              ("StepRetryRequested",), swept=True, stuck_after=timedelta(hours=1),
                              retry_after=timedelta(minutes=5)),
    # Bedrock's: a job may train for days; a stop takes minutes. Past these, nothing is ended blindly (the job
    # may still bill): the sweeper keeps asking, and the alarm asks a person to look.
    S.TRAINING: Wait("the Bedrock job", ("Model Customization Job State Change",), swept=True,
                     stuck_after=timedelta(days=5)),
    S.STOPPING: Wait("the Bedrock job to stop", ("Model Customization Job State Change",), swept=True,
                     stuck_after=timedelta(hours=2)),
    S.TRAINED: Wait("the deploy step claiming the run", ("ModelTrained", "StepRetryRequested"), swept=True,
                    stuck_after=timedelta(hours=2), retry_after=timedelta(minutes=15)),
    S.DEPLOYING: Wait("the serving resource: created, then InService / Active (polled; no event exists)",
                      ("StepRetryRequested",), swept=True, stuck_after=timedelta(hours=3),
                      retry_after=timedelta(minutes=5)),
    S.DEPLOYMENT_QUEUED: Wait("a free no-commitment PT (the account allows two)", (), swept=True,
                              stuck_after=timedelta(hours=24)),
    S.DEPLOYED: Wait("the evaluation claiming the run (or, without one, its completion)", ("ModelDeployed",),
                     swept=True, stuck_after=timedelta(hours=2), retry_after=timedelta(minutes=15)),
    S.EVALUATING: Wait("every chunk of the test sample answered and stored, from the evaluation queue (lease: the "
                       "evaluation's deadline)", (), swept=True, stuck_after=timedelta(hours=3),
                       # above the queue's own retries (3 receives x 16 min): a chunk is never queued twice
                       retry_after=timedelta(minutes=60)),
    S.EVALUATED: Wait("the teardown policy (keep or delete the deployment)", ("EvaluationCompleted",), swept=True,
                      stuck_after=timedelta(hours=2), retry_after=timedelta(minutes=15)),
    # Bedrock's import job: minutes to hours for large models; no event exists, so the sweeper asks every period.
    # Before the job exists the run holds the start's lease (retried like the training start's).
    S.IMPORT_WAITING: Wait("every file the manifest lists, at its size (lease: the upload's deadline)",
                           ("Object Created", "StepRetryRequested"), swept=True, stuck_after=timedelta(days=2),
                           retry_after=timedelta(minutes=30)),
    S.IMPORTING: Wait("the import job: created, then Completed / Failed (polled; no event exists)",
                      ("Object Created", "StepRetryRequested"), swept=True, stuck_after=timedelta(hours=6),
                      retry_after=timedelta(minutes=5)),
    S.IMPORTED: Wait("the evaluation claiming the run (or, without a test set, its completion)", ("ModelImported",),
                     swept=True, stuck_after=timedelta(hours=2), retry_after=timedelta(minutes=15)),
}


class UndeclaredTransition(ValueError):
    pass


def transition(name: str) -> Transition:
    """The declared, implemented transition called `name`; anything else is a programming error."""
    spec = TRANSITIONS.get(name)
    if spec is None:
        raise UndeclaredTransition(f"no transition named {name!r} in the lifecycle")
    if spec.planned:
        raise UndeclaredTransition(f"transition {name!r} is planned, not implemented")
    return spec


def implemented() -> list[Transition]:
    return [t for t in TRANSITIONS.values() if not t.planned]


def terminal_states() -> set[RunState]:
    """States no implemented transition leaves."""
    left = {source for t in implemented() for source in t.sources if source != t.target}
    return reachable_states() - left


def reachable_states() -> set[RunState]:
    return {t.target for t in implemented()}


# --- documentation generated from the table ------------------------------------------------------------


def _duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} h"


def mermaid() -> str:
    """The implemented lifecycle, one edge per pair of states (planned transitions are listed, not drawn)."""
    edges: dict[tuple[str, str], list[str]] = {}
    for t in implemented():
        for source in sorted(t.sources):
            label = t.name + (f" / {t.event}" if t.event else "")
            edges.setdefault(("[*]" if source == INITIAL else source, t.target.value), []).append(label)
    lines = ["stateDiagram-v2"]
    lines += [f"    {source} --> {target}: {', '.join(labels)}" for (source, target), labels in edges.items()]
    lines += [f"    {state} --> [*]" for state in sorted(terminal_states())]
    return "\n".join(lines)


def markdown_table() -> str:
    rows = ["| transition | from | to | owner | event | why |", "| --- | --- | --- | --- | --- | --- |"]
    for t in implemented():
        sources = ", ".join(sorted(t.sources))
        rows.append(f"| `{t.name}` | {sources} | {t.target} | {t.owner} | {t.event or '–'} | {t.why} |")
    rows.append("")
    rows.append("| waiting state | waits on | moved by | swept | reported stuck after |")
    rows.append("| --- | --- | --- | --- | --- |")
    for state, wait in WAITS.items():
        rows.append(f"| {state} | {wait.on} | {', '.join(wait.triggers) or '–'} | {'yes' if wait.swept else 'no'} "
                    f"| {_duration(wait.stuck_after)} |")
    planned = [t for t in TRANSITIONS.values() if t.planned]
    if planned:
        rows.append("")
        rows.append("Planned for the next steps (declared, refused by the ledger until built): "
                    + "; ".join(f"`{t.name}` ({', '.join(sorted(t.sources))} → {t.target})" for t in planned) + ".")
    return "\n".join(rows)
