import PostfixSyntax

/// The rule core's addresses and networks are the syntax layer's (parsed and printed with
/// `inet_pton`/`inet_ntop`, as Postfix does): named here so that the modules above the rule
/// core and its tests reach them through `import HeloPolicy` alone.
public typealias IPAddress = PostfixSyntax.IPAddress
public typealias IPNetwork = PostfixSyntax.IPNetwork
