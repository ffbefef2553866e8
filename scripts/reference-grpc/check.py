"""The functional test of the Python app: one request to users, checked
against whether a fault was injected (GET $FILIBUSTER_URL/filibuster/fault-injected).

Fault-free, users must answer 200 with Chris Rivers' movie; with a fault, 404
or 503. Exits 1 otherwise. Environment: USERS_URL (default
http://127.0.0.1:5031), FILIBUSTER_URL (default http://127.0.0.1:5005).
"""
import json
import os
import sys
import urllib.error
import urllib.request

users_url = os.environ.get("USERS_URL", "http://127.0.0.1:5031")
filibuster_url = os.environ.get("FILIBUSTER_URL", "http://127.0.0.1:5005")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or "null")


status, body = get(users_url + "/users/chris_rivers/bookings")
_, injected = get(filibuster_url + "/filibuster/fault-injected")
if injected["result"]:
    ok = status in (404, 503)
else:
    ok = status == 200 and body == {"user": "chris_rivers", "movies": ["Creed"]}
print(f"check: fault injected: {injected['result']}, users answered {status} {body}: {'ok' if ok else 'FAILED'}")
sys.exit(0 if ok else 1)
