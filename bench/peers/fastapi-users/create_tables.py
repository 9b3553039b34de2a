"""Creates the example's tables once, before the uvicorn workers start."""

import asyncio

from app.db import create_db_and_tables, engine


async def main() -> None:
    await create_db_and_tables()
    await engine.dispose()


asyncio.run(main())
