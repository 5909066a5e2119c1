"""Operations: the local Prefect stack (`python -m ops.stack`) and Prefect's secrets (`python -m ops.secrets`).

`flows` opts out of Prefect's telemetry before Prefect is first imported; import it first here too.
"""

import flows  # noqa: F401
