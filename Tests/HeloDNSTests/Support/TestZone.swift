/// The test zone dnsmasq serves: the names of the Postfix verification zone
/// (postfix-helo-semantics §8.1) plus what the other DNS restrictions need.
///
/// dnsmasq has no upstream server here; `local=` makes it answer NXDOMAIN for unknown names in
/// those domains (elsewhere it would answer REFUSED). With `--no-round-robin` its order is fixed:
/// A records as in this file, MX, TXT and NS records (and `dns-rr` lines in general) in the
/// REVERSE of this file's order. So those lines are written last-first below.
enum TestZone {
    static let config = """
        local=/test/
        local=/localhost/
        local=/invalid/
        local=/onion/
        local=/home.arpa/

        host-record=good.example.test,192.0.2.1
        host-record=v6only.example.test,2001:db8::1
        host-record=multi.example.test,192.0.2.13
        host-record=multi.example.test,192.0.2.11
        host-record=multi.example.test,192.0.2.12
        host-record=mx1.example.test,192.0.2.21
        host-record=mx2.example.test,192.0.2.22
        host-record=mx3.example.test,192.0.2.23
        mx-host=mxonly.example.test,mx1.example.test,10
        mx-host=mxonly.example.test,mx3.example.test,30
        mx-host=mxonly.example.test,mx2.example.test,20
        dns-rr=nullmx.example.test,15,\(DNSWire.hex(DNSWire.mx(0, ".")))
        txt-record=nodata.example.test,"only text here"
        txt-record=multitxt.example.test,"part one","part two"
        txt-record=twotxt.example.test,"second record"
        txt-record=twotxt.example.test,"first record"
        cname=cname.example.test,good.example.test
        cname=chain.example.test,cname.example.test
        dns-rr=nswalk.example.test,2,\(DNSWire.hex(DNSWire.name("ns2.nswalk.example.test")))
        dns-rr=nswalk.example.test,2,\(DNSWire.hex(DNSWire.name("ns1.nswalk.example.test")))
        host-record=cached.example.test,192.0.2.50

        host-record=x.test,192.0.2.99
        host-record=host.invalid,192.0.2.98
        host-record=host.onion,192.0.2.97
        host-record=host.home.arpa,192.0.2.96
        dns-rr=4.3.2.10.in-addr.arpa,1,\(DNSWire.hex(DNSWire.a("192.0.2.95")))
        dns-rr=1.0.0.127.in-addr.arpa,1,\(DNSWire.hex(DNSWire.a("192.0.2.94")))
        dns-rr=9.2.0.192.in-addr.arpa,16,\(DNSWire.hex(DNSWire.txt(["test-net reverse"])))
        """
}
