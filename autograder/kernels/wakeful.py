"""Notice a kernel's message when it arrives, not when the cell's timeout fires.

pyzmq's asyncio poll sometimes misses the wake-up for a message already queued on a kernel's
socket. nbclient then waits on the shell channel until the cell's timeout, and only the final
non-blocking poll pyzmq makes at the timeout finds the reply that was there all along: the cell
ends without an error, but 60 s late (the course's timeout). Measured here with widget cells
(`descent_explorer` and `tangent_explorer`, with their Output widgets): 1 in 200 with one client,
12 in 906 with three clients on two cores; nbclient #312, nbconvert #1921 and #2029 report the
same hang.

Polling in short slices makes that final poll happen every `SLICE` seconds, so a missed wake-up
costs at most one slice. Timeouts keep their meaning: a slice that finds nothing polls again
until the caller's own timeout has passed, and then raises `queue.Empty` as before.
"""
import time
from queue import Empty

from nbclient import NotebookClient
from nbclient.util import run_sync

SLICE = 0.2  # seconds; a waiting client wakes five times a second, which costs no measurable CPU


def poll_in_slices(channel, slice_seconds: float = SLICE) -> None:
    """Make `channel.get_msg(timeout)` (an async jupyter_client channel) poll in slices."""
    get_msg = channel.get_msg
    if getattr(get_msg, "polls_in_slices", False):
        return

    async def get_msg_in_slices(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await get_msg(timeout=slice_seconds if left is None
                                     else min(slice_seconds, left))
            except Empty:
                if left is not None and left <= slice_seconds:
                    raise

    get_msg_in_slices.polls_in_slices = True
    channel.get_msg = get_msg_in_slices


def wake_on_every_message(kernel_client) -> None:
    """Apply `poll_in_slices` to the shell and IOPub channels nbclient waits on."""
    poll_in_slices(kernel_client.shell_channel)
    poll_in_slices(kernel_client.iopub_channel)


class WakefulNotebookClient(NotebookClient):
    """nbclient's NotebookClient whose kernel client polls in slices (`wake_on_every_message`)."""

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        wake_on_every_message(client)
        return client

    # nbclient binds its synchronous names to its own coroutines: bind them to this one
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
