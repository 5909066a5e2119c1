"""`make test`'s order of test files across its test processes (pytest-xdist's `--dist loadfile`).

pytest-xdist hands a process the next file of the queue when it has two tests or fewer left. The
process that runs the end-to-end stack asks for its next file during the stack's last two tests and
took a flow file then (the flow files come early in the queue: tests/conftest.py). A flow file needs
a Prefect test server in its process (tests/flows/conftest.py: about 5 CPU s to start), which the
other two processes have started already; so that process takes the first file that is not a flow
file, when there is one, and the flow files stay with the servers already running.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling
from xdist.workermanage import WorkerController

END_TO_END = "tests/e2e/"
NEEDS_A_PREFECT_SERVER = "tests/flows/"


class FlowFilesWhereTheirServersRun(LoadFileScheduling):
    def _assign_work_unit(self, node: WorkerController) -> None:
        if any(scope.startswith(END_TO_END) for scope in self.assigned_work.get(node, {})):
            other = next((scope for scope in self.workqueue if not scope.startswith(NEEDS_A_PREFECT_SERVER)), None)
            if other is not None:
                self.workqueue.move_to_end(other, last=False)
        super()._assign_work_unit(node)
