import LarderStore

/// Redis' `timeout`: clients idle for longer are closed (clientsCronHandleTimeout). MONITOR
/// clients are exempt, as Redis exempts replicas (a monitor is one).
enum IdleClients {
    static func closeIdle(_ server: ServerState) {
        let limit = server.settings.idleTimeout.load(ordering: .relaxed)
        guard limit > 0 else { return }
        let now = Int(Clock.nowMilliseconds())
        for c in server.clients.all where !c.isMonitor.load(ordering: .relaxed) {
            if now - c.lastInteraction.load(ordering: .relaxed) > limit * 1000 {
                _ = c.transport?.closeFromAnyThread()
            }
        }
    }
}
