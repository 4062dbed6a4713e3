"""Real upstreams for gateway tests: llama.cpp's OpenAI-compatible server, a TCP proxy in
front of it that injects real network faults (cut after N response bytes) or records
what the gateway sent, and a gateway served by uvicorn in a thread."""

from __future__ import annotations

import asyncio
import threading
import time

from shared.kafka.broker import free_port


class CuttingProxy:
    """Forwards TCP to a target; after `cut_after` response bytes it drops the connection
    (None: never). `sent` holds every byte the client sent upstream."""

    def __init__(self, target_port: int, cut_after: int | None) -> None:
        self.target_port, self.cut_after = target_port, cut_after
        self.sent = bytearray()
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def handle(reader, writer):
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)

            async def pump(src, dst, limit, record=None):
                sent = 0
                while data := await src.read(4096):
                    if record is not None:
                        record += data
                    if limit is not None and sent + len(data) > limit:
                        dst.write(data[: limit - sent])
                        await dst.drain()
                        break
                    dst.write(data)
                    await dst.drain()
                    sent += len(data)
                dst.close()

            await asyncio.gather(
                pump(reader, up_w, None, self.sent), pump(up_r, writer, self.cut_after), return_exceptions=True
            )

        server = self.loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", self.port))
        ready.set()
        self.loop.run_until_complete(server.serve_forever())


class Served:
    """An ASGI app on a free port, served by uvicorn in a thread; `url` ends in /v1."""

    def __init__(self, app) -> None:
        import uvicorn

        port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}/v1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
