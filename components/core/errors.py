"""Exceptions raised at stage boundaries; each message names the file, key or check at fault."""


class KeelError(Exception):
    """Base class: a stage CLI prints the message and exits with status 1."""

    transient = False  # True: the cause may pass on its own (an outage), so a flow retries the step


class ParamsError(KeelError):
    """params.yaml is missing, malformed, or has an unknown or mistyped key."""


class IngestError(KeelError):
    """The data source cannot be read (missing, empty, truncated, wrong format)."""


class DataValidationError(KeelError):
    """One or more Great Expectations checks failed."""

    def __init__(self, message: str, failures: list[str]):
        super().__init__(message)
        self.failures = failures


class PipelineDefinitionError(KeelError):
    """dvc.yaml's generated stages are not what Keel declares (a hand edit; components/stages/dvccheck.py)."""


class StageInputError(KeelError):
    """A stage's input folder is missing something an earlier stage should have written."""


class CheckpointError(KeelError):
    """A checkpoint file (model.pt) cannot be read: truncated, corrupt, or not a Keel checkpoint."""


class RegistryError(KeelError):
    """The model registry refused an operation or is in an unexpected state."""


class TrackingUnavailableError(RegistryError):
    """The tracking server or registry database did not answer (not the same as "not found")."""

    transient = True


class StorageFullError(KeelError):
    """A write failed for lack of space (disk full, quota, file-size limit); the previous file is intact."""
