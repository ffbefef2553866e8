"""Sees which faults a Filibuster server injects, whichever server it is.

  record.py proxy PORT UPSTREAM LOG   forward every request to UPSTREAM (a
                                      Filibuster server), appending each
                                      exchange to LOG as a JSON line
  record.py mark LOG                  append an execution mark (the functional
                                      test command runs it first)
  record.py compare TITLE REF OURS    print the executions of both logs and
                                      exit 1 when they differ (the repeated
                                      fault-free run of filibuster-rs aside)
  record.py counts REF_OUTPUT REF_LOG REPORT
                                      print the executions each server says it
                                      ran and pruned (the reference's output,
                                      filibuster-rs's JSON report); exit 1
                                      when the counts differ

An execution's faults are the answers to PUT /filibuster/create that carry
`forced_exception` or `failure_metadata`: what the server told a service to
inject, in the order the calls were made.
"""
import json
import re
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}


def as_json(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def proxy(port, upstream, log_path):
    lock = threading.Lock()

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            request = urllib.request.Request(upstream + self.path, data=body or None,
                                             headers=headers, method=self.command)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    status, answer = response.status, response.read()
            except urllib.error.HTTPError as err:
                status, answer = err.code, err.read()
            except OSError as err:
                status, answer = 502, json.dumps({"proxy error": str(err)}).encode()
            with lock, open(log_path, "a") as log:
                log.write(json.dumps({"method": self.command, "path": self.path, "request": as_json(body),
                                      "status": status, "response": as_json(answer)}) + "\n")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_PUT = do_POST = forward

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Forward).serve_forever()


def fault_of(answer):
    """How the server's answer to a create asks for a fault, or None."""
    if not isinstance(answer, dict):
        return None
    if answer.get("forced_exception"):
        exception = answer["forced_exception"]
        return (exception.get("metadata") or {}).get("code") or exception.get("name")
    if answer.get("failure_metadata"):
        failure = answer["failure_metadata"]
        if "exception" in failure:
            return failure["exception"].get("metadata", {}).get("code", "?") + " (callee error)"
        if "return_value" in failure:
            return "status " + str(failure["return_value"].get("status_code"))
        return json.dumps(failure)
    return None


def read(log_path):
    """The executions of a log (each a list of faults) and the records the server refused."""
    executions, refused = [], []
    with open(log_path) as log:
        for line in log:
            entry = json.loads(line)
            if "execution" in entry:
                executions.append([])
                continue
            if entry["status"] >= 300:
                refused.append(entry)
            fault = fault_of(entry["response"]) if entry["path"].endswith("/filibuster/create") else None
            if fault and executions:
                request = entry["request"]
                call = request["args"][0] if request.get("args") else f"{request.get('module')}.{request.get('method')}"
                executions[-1].append(f"{call}: {fault}")
    return executions, refused


def show(name, executions, refused):
    print(f"{name}: {len(executions)} executions")
    for number, faults in enumerate(executions, 1):
        print(f"  {number}. {'; '.join(faults) or 'no fault'}")
    for entry in refused[:5]:
        print(f"  refused ({entry['status']}): {entry['method']} {entry['path']} {json.dumps(entry['request'])}"
              f" -> {json.dumps(entry['response'])}")
    if len(refused) > 5:
        print(f"  ... {len(refused)} refused in all")


def compare(title, reference_log, ours_log):
    print(f"== {title}")
    reference, ours = read(reference_log), read(ours_log)
    show("reference server", *reference)
    # filibuster-rs runs the fault-free execution a second time, to check that
    # it makes the same calls, and does not count that run as an execution.
    rerun = len(ours[0]) > 1 and not ours[0][0] and not ours[0][1]
    if rerun:
        del ours[0][1]
    show("filibuster-rs server", *ours)
    if rerun:
        print("  (and one more fault-free run of the functional test after execution 1:"
              " filibuster-rs's determinism check, not counted)")
    same = reference[0] == ours[0]
    print("SAME executions and faults, in the same order" if same else "DIFFERENT")
    return same


def counts(reference_output, reference_log, report_path):
    calls = {}  # execution index -> RPC, from the reference run's records
    with open(reference_log) as log:
        for entry in map(json.loads, log):
            if entry.get("path", "").endswith("/filibuster/create") and entry["request"].get("args"):
                calls[entry["request"]["execution_index"]] = entry["request"]["args"][0]
    text = re.sub(r"\x1b\[[0-9;]*m", "", open(reference_output, errors="replace").read())
    ran = int(re.search(r"Number of test executions ran: (\d+)", text).group(1))
    pruned_section = text.split("Test executions actually pruned:")[1].split("Number of tests attempted")[0]
    pruned_count = len(re.findall(r"Test number: \d+", pruned_section))
    pruned = [f"{calls.get(index, index)}: {fault}"
              for index, fault in re.findall(r"INFO\]: (\[\[.*?\]\]): (.*)", pruned_section)]
    print(f"reference server says: {ran} run, {pruned_count} pruned")
    for fault in pruned:
        print(f"  pruned: {fault}")
    with open(report_path) as report_file:
        report = json.load(report_file)
    ours_pruned = [f"{fault['path']}: {fault['fault']}" for execution in report["executions"]
                   if execution["status"] == "pruned" for fault in execution["faults"]]
    print(f"filibuster-rs server says: {report['executions_run']} run, {report['executions_pruned']} pruned")
    for fault in ours_pruned:
        print(f"  pruned: {fault}")
    return (ran, pruned_count) == (report["executions_run"], report["executions_pruned"])


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "proxy":
        proxy(int(sys.argv[2]), sys.argv[3].rstrip("/"), sys.argv[4])
    elif command == "mark":
        with open(sys.argv[2], "a") as log:
            log.write(json.dumps({"execution": True}) + "\n")
    elif command == "compare":
        sys.exit(0 if compare(*sys.argv[2:5]) else 1)
    elif command == "counts":
        sys.exit(0 if counts(*sys.argv[2:5]) else 1)
    else:
        sys.exit(__doc__)
