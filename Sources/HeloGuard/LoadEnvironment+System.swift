import HeloDNS
import HeloPolicy
import HeloState

extension LoadEnvironment {
    /// What heloguard loads a configuration with when it runs for real: Postfix's configuration
    /// read with ``Postconf`` (`impersonation_postfix_config`), and our names resolved at load
    /// (`impersonation_check_dns`) by a libunbound resolver of the configuration's DNS settings
    /// made for that load alone. It is dropped when the load ends, which stops its threads:
    /// the first load happens before the service detaches with fork. The state store's
    /// parameters are checked with the rest (``StateSettings``).
    public static var system: LoadEnvironment {
        LoadEnvironment(postfix: Postconf(), makeIdentityResolver: { settings in
            do {
                return try UnboundResolver(settings: settings)
            } catch {
                return BrokenResolver(reason: "cannot set up the DNS resolver: \(error)")
            }
        }, sections: [StateSettings.self])
    }
}
