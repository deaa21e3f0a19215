"""``lockers server``: the runtime plus the web app under uvicorn, until Ctrl-C/SIGTERM."""

from __future__ import annotations

import logging

from server.config import ServerConfig


def serve(config: ServerConfig) -> int:
    """Run everything; return the exit code."""
    import uvicorn

    from server.runtime import ServerRuntime
    from server.web.app import create_app

    logging.basicConfig(level=config.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    runtime = ServerRuntime(config)
    runtime.start()

    def health() -> dict[str, object]:
        return {"mqtt_connected": runtime.link.connected.is_set(),
                "events_applied": runtime.ingest.stats.applied,
                "bad_payloads": runtime.ingest.stats.bad_payloads}

    app = create_app(runtime.services, health=health)
    app.state.runtime = runtime
    try:
        uvicorn.run(app, host=config.web.host, port=config.web.port, log_level="warning")
    finally:
        runtime.stop()
    return 0
