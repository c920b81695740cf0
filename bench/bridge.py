"""Benchmark: what one call across split execution's wire costs.

    python -m bench.bridge [--calls 3000]     # rewrites its own section of bench/results.md

A plain kernel (no sandbox) gets the student's side of the bridge, as a graded student kernel
does; this process is the trusted side (autograder/safety/trusted.py). Each kind of round trip
a hidden test makes is repeated `--calls` times: a call of a student's function with a float, an
attribute of a student's object, a call with a 10 x 10 array (which comes back as a pair, kept
equal). CPU microseconds per round trip of this process and of the kernel (from /proc), and wall
time.
"""
import argparse
import datetime
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from jupyter_client.manager import KernelManager

from autograder.safety import bridge, trusted
from bench.split import write_section

SECTION = "## Split execution: one call across the wire"
STUDENT_CODE = ("def identity(x):\n    return x\n"
                "class Value:\n    def __init__(self):\n        self.data = 1.0\n"
                "value = Value()\n")


def kernel_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bridge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    km = KernelManager(transport="ipc", ip=os.path.join(tempfile.mkdtemp(), "kernel"))
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        for code in (bridge.install_code(), STUDENT_CODE):
            kc.execute_interactive(code, silent=True, timeout=60)
        pid = km.provisioner.process.pid
        info = dict(km.get_connection_info())
        info["key"] = info["key"].decode()
        trusted.connect(info, pid)
        names: dict = {}
        trusted.bind(names, ["identity", "value"])
        identity, value, array = names["identity"], names["value"], np.ones((10, 10))
        rows = ["| round trip | trusted side CPU us | student side CPU us | wall us |",
                "|---|---|---|---|"]
        for label, call in [("call with a float", lambda: identity(1.0)),
                            ("attribute of an object", lambda: value.data),
                            ("call with a 10 x 10 array", lambda: identity(array))]:
            call()
            cpu, kernel, wall = time.process_time(), kernel_cpu(pid), time.perf_counter()
            for _ in range(args.calls):
                call()
            n = args.calls
            rows.append(f"| {label} | {1e6 * (time.process_time() - cpu) / n:.0f} | "
                        f"{1e6 * (kernel_cpu(pid) - kernel) / n:.0f} | "
                        f"{1e6 * (time.perf_counter() - wall) / n:.0f} |")
        trusted.disconnect()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    text = "\n".join([SECTION, "", f"`python -m bench.bridge --calls {args.calls}`, "
                      f"{started:%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}:",
                      "", *rows, ""])
    write_section(text, SECTION)
    print(text)


if __name__ == "__main__":
    main()
