"""AwsClient against an endpoint that answers as a throttled AWS API does: every try is one HTTP request."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.server
import threading

import pytest

from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

# The query protocol's error body (RDS): botocore's parsers read Error/Code from it (botocore/parsers.py,
# QueryParser); "Throttling" is the code RDS answers with when a caller exceeds its request rate.
THROTTLED = b"""<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>
  <RequestId>4f2c</RequestId></ErrorResponse>"""


class Throttled(http.server.BaseHTTPRequestHandler):
    requests = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.requests.append(self.path)
        self.send_response(400)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(THROTTLED)))
        self.end_headers()
        self.wfile.write(THROTTLED)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Throttled)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Throttled.requests[:] = []
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_each_of_our_jittered_tries_is_exactly_one_request(endpoint):
    sleeps = []
    client = AwsClient(dict(region="us-east-1", endpoint_url=endpoint, access_key="AKIDEXAMPLE",
                            secret_key="secret"), "rds", tries=3, sleeper=sleeps.append)
    with pytest.raises(RollbackError, match="describe_db_instances failed: Throttling: Rate exceeded"):
        client.call("describe_db_instances")
    assert len(Throttled.requests) == 3, "botocore's own retries are off: 3 tries, 3 requests"
    assert len(sleeps) == 2 and all(delay > 0 for delay in sleeps), "our backoff between tries"
