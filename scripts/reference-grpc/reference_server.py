"""Runs the reference's filibuster_cli.py (its arguments follow) without its start-up race.

The reference's server starts Flask in a thread and health-checks it at once;
when the thread does not listen yet, lifecycle/__init__.py's
num_services_running crashes ("! service " + a tuple: TypeError), and the run
ends before it starts. This waits until the port listens, then lets the
reference's own check run. Nothing else of the reference is changed.

  reference_server.py REFERENCE_DIR [filibuster_cli.py's options]
"""
import runpy
import socket
import sys
import time

import filibuster.lifecycle as lifecycle

reference_wait = lifecycle.wait_for_services_to_start


def wait_for_services_to_start(services):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", 5005), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    reference_wait(services)


lifecycle.wait_for_services_to_start = wait_for_services_to_start  # before filibuster.server imports it
cli = sys.argv[1] + "/filibuster_cli.py"
sys.argv = [cli] + sys.argv[2:]
runpy.run_path(cli, run_name="__main__")
