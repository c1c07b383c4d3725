"""Per-request DataLoaders: every user lookup in one request tick is one query."""

from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from users.store import UserRecord, UserStore

# Bounds the size of one `$in` query; larger batches become a few queries.
MAX_BATCH = 500


@dataclass(frozen=True)
class Loaders:
    user_by_id: DataLoader[str, UserRecord | None]


def create_loaders(store: UserStore) -> Loaders:
    async def load_users(ids: list[str]) -> list[UserRecord | None]:
        found = await store.find_by_ids(ids)
        return [found.get(user_id) for user_id in ids]

    return Loaders(user_by_id=DataLoader(load_fn=load_users, max_batch_size=MAX_BATCH))
