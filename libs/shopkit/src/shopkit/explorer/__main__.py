"""`python -m shopkit.explorer`: serves the composed graph's explorer (GRAPH_URL, HOST, PORT)."""

import uvicorn

from shopkit.explorer.server import Settings, create_app

if __name__ == "__main__":
    settings = Settings()
    print(f"explorer of {settings.graph_url} on http://{settings.host}:{settings.port}/", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
    )
