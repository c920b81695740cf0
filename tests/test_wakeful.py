"""A kernel's reply is noticed when it arrives, even when pyzmq misses the wake-up for it."""
import asyncio
import time
from queue import Empty

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autograder.kernels.wakeful import SLICE, WakefulNotebookClient, poll_in_slices


class MissedWakeUpChannel:
    """A channel with pyzmq's failure: a message queued while `get_msg` waits is seen only by
    the non-blocking poll at the end of the timeout."""

    def __init__(self):
        self.queue = []

    async def get_msg(self, timeout=None):
        if self.queue:
            return self.queue.pop(0)
        await asyncio.sleep(3600 if timeout is None else timeout)   # the wake-up never comes
        if self.queue:
            return self.queue.pop(0)
        raise Empty


async def reply_after(channel, seconds, timeout):
    async def send():
        await asyncio.sleep(seconds)
        channel.queue.append({"msg_type": "execute_reply"})
    sender = asyncio.ensure_future(send())
    started = time.monotonic()
    message = await channel.get_msg(timeout=timeout)
    await sender
    return message, time.monotonic() - started


def test_the_fake_channel_shows_the_stall_a_plain_channel_suffers():
    message, waited = asyncio.run(reply_after(MissedWakeUpChannel(), 0.1, timeout=2))
    assert message["msg_type"] == "execute_reply" and waited >= 1.9


def test_a_reply_is_noticed_within_a_slice_not_at_the_timeout():
    channel = MissedWakeUpChannel()
    poll_in_slices(channel)
    message, waited = asyncio.run(reply_after(channel, 0.1, timeout=30))
    assert message["msg_type"] == "execute_reply"
    assert waited < 0.1 + SLICE + 1.0, f"the reply waited {waited:.1f} s"


def test_a_reply_is_noticed_when_the_caller_waits_without_timeout():
    channel = MissedWakeUpChannel()
    poll_in_slices(channel)
    message, waited = asyncio.run(reply_after(channel, 0.3, timeout=None))
    assert message["msg_type"] == "execute_reply" and waited < 0.3 + SLICE + 1.0


def test_no_message_still_raises_empty_once_the_callers_timeout_has_passed():
    channel = MissedWakeUpChannel()
    poll_in_slices(channel)
    for timeout in (0, 0.5, 1.3):
        started = time.monotonic()
        try:
            asyncio.run(channel.get_msg(timeout=timeout))
        except Empty:
            waited = time.monotonic() - started
            assert timeout - 0.05 <= waited < timeout + SLICE + 0.5, (timeout, waited)
        else:
            raise AssertionError("a message came from an empty channel")


def test_applying_twice_wraps_once():
    channel = MissedWakeUpChannel()
    poll_in_slices(channel)
    wrapped = channel.get_msg
    poll_in_slices(channel)
    assert channel.get_msg is wrapped


def test_the_notebook_client_polls_its_kernel_in_slices(tmp_path):
    nb = new_notebook(cells=[new_code_cell("1 + 1")])
    client = WakefulNotebookClient(nb, timeout=60, kernel_name="python3",
                                   resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        assert client.kc.shell_channel.get_msg.polls_in_slices
        assert client.kc.iopub_channel.get_msg.polls_in_slices
        client.execute_cell(nb.cells[0], 0)
    assert nb.cells[0].outputs[0]["data"]["text/plain"] == "2"
    nbformat.validate(nb)
