import Testing
@testable import HeloDNS
import HeloPolicy
