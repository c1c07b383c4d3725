"""`python -m delivery`: serves the delivery subgraph where its settings say (HOST, PORT)."""

from delivery.config import Settings
from shopkit.serve import serve


def main() -> None:
    serve("delivery.app:create_app", Settings())


if __name__ == "__main__":
    main()
