import HeloPolicy
import NIOCore
import NIOHTTP1
import NIOPosix

/// The `metrics_listen` endpoint: `GET /metrics` answers the exposition in Prometheus' text
/// format; every other path is 404, every other method 405. Plain SwiftNIO HTTP/1.1 on the
/// process-wide event loop group that postgres-nio uses too: no web framework, no thread per
/// request. A scrape renders the text on an event loop; the milter's callbacks never wait for it.
public final class MetricsServer: Sendable {
    public let address: ListenAddress
    private let channel: any Channel

    /// Why the endpoint could not start.
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Binds `address` now (so that a port in use is a start-up error) and serves `metrics`.
    public static func start(_ address: ListenAddress, metrics: HeloGuardMetrics,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws(StartError) -> MetricsServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(MetricsHTTPHandler(metrics: metrics))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 1)
        do {
            let channel = try bootstrap.bind(host: address.host, port: address.port).wait()
            return MetricsServer(address: address, channel: channel)
        } catch {
            throw StartError(description: "cannot serve metrics on \(address) (metrics_listen): \(error)")
        }
    }

    private init(address: ListenAddress, channel: any Channel) {
        self.address = address
        self.channel = channel
    }

    /// The port actually bound (differs from ``address`` when that asked for port 0 in tests).
    public var boundPort: Int? { channel.localAddress?.port }

    public func stop() {
        try? channel.close().wait()
    }
}

/// One HTTP connection of the metrics endpoint.
final class MetricsHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let metrics: HeloGuardMetrics
    private var request: HTTPRequestHead?

    init(metrics: HeloGuardMetrics) {
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let (status, type, body): (HTTPResponseStatus, String, String)
        if path != "/metrics" {
            (status, type, body) = (.notFound, "text/plain; charset=utf-8", "not found: heloguard serves /metrics\n")
        } else if head.method != .GET && head.method != .HEAD {
            (status, type, body) = (.methodNotAllowed, "text/plain; charset=utf-8", "use GET\n")
        } else {
            (status, type, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition())
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        if status != .ok { headers.add(name: "Allow", value: "GET, HEAD") }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
            buffer.writeString(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        let channel = context.channel
        if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
    }
}
