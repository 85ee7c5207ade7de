"""Test helper: a Python asyncio stream server or client.

usage: asyncio_pair.py serve PORT FILE   (sends FILE to the first client, then exits)
       asyncio_pair.py get PORT OUT      (writes what the server sends to OUT)
"""
import asyncio
import sys


async def serve(port, path):
    done = asyncio.Event()

    async def handle(reader, writer):
        with open(path, "rb") as f:
            writer.write(f.read())
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await asyncio.wait_for(done.wait(), 30)


async def get(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = await reader.read()
    writer.close()
    with open(path, "wb") as f:
        f.write(data)


command, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
asyncio.run(serve(port, path) if command == "serve" else get(port, path))
