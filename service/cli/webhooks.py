"""``loss-search webhooks listen``: a receiver that checks and prints the webhooks it gets.

For trying webhooks out, and for seeing what a receiver must do: each POST's signature is
checked with the tenant's secret (Standard Webhooks, by its reference package), and a message
that fails the check is answered 401 so it is retried, as a real receiver should.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import typer
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

app = typer.Typer(help="Receive webhooks.", no_args_is_help=True)


def _handler(webhook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                event: dict[str, Any] = webhook.verify(body, dict(self.headers.items()))
            except WebhookVerificationError as exc:
                typer.echo(f"refused ({exc}): {self.headers.get('webhook-id')}", err=True)
                self._answer(401)
                return
            data = event.get("data", {})
            typer.echo(f"{event.get('type')} {data.get('job_id')} (signature ok)")
            typer.echo(json.dumps(data, indent=2))
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # what matters is printed above

    return Receiver


@app.command("listen")
def listen(
    secret: Annotated[
        str,
        typer.Option(
            envvar="LOSS_SEARCH_WEBHOOK_SECRET", help="whsec_… from GET /v1/webhooks/secret."
        ),
    ],
    port: Annotated[int, typer.Option(min=1, max=65535)] = 9000,
    host: str = "127.0.0.1",
) -> None:
    """Listen for webhooks on HOST:PORT, check each signature and print the event."""
    server = ThreadingHTTPServer((host, port), _handler(Webhook(secret)))
    typer.echo(f"listening on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
