import CUnbound
import HeloPolicy
