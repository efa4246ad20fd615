"""interlink from Python in one file: a relay gateway, a listener behind it (an HTTP handler
and a WebSocket echo), and a sender reaching both through the relay. All on 127.0.0.1.

Run: python examples/quickstart.py
"""

import asyncio

import interlink


async def hello(request: interlink.Request) -> interlink.Response:
    """The listener's HTTP handler; it runs in this event loop."""
    return interlink.Response(200, [("content-type", "text/plain")], b"hello, " + request.body)


async def echo(socket: interlink.WebSocket) -> None:
    async for message in socket:
        await socket.send(message)


async def main() -> None:
    async with interlink.Gateway.start() as gateway:
        cs = gateway.connection_string
        async with interlink.RelayListener.bind(cs, "demo", handler=hello) as listener:
            sockets = asyncio.create_task(serve_sockets(listener))
            sender = interlink.RelaySender(cs, "demo")

            response = await sender.request("POST", "/greet", body=b"relay")
            print(response.status, response.text)  # 200 hello, relay

            ws = await sender.connect("chat")
            await ws.send("ping")
            print(await ws.receive())  # ping
            await ws.close()

            try:
                await interlink.RelaySender(cs, "nobody").connect()
            except interlink.NotFoundError as e:
                print(type(e).__name__, e.status, e.code)  # NotFoundError 404 not_found
        await sockets


async def serve_sockets(listener: interlink.RelayListener) -> None:
    echoes = set()  # keep the tasks referenced while they run
    async for socket in listener:  # ends when the listener closes
        task = asyncio.create_task(echo(socket))
        echoes.add(task)
        task.add_done_callback(echoes.discard)


if __name__ == "__main__":
    asyncio.run(main())
