import HeloPolicy
print("heloguard")
