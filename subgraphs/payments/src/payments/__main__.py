"""`python -m payments`: serves the payments subgraph where its settings say (HOST, PORT)."""

from payments.config import Settings
from shopkit.serve import serve


def main() -> None:
    serve("payments.app:create_app", Settings())


if __name__ == "__main__":
    main()
