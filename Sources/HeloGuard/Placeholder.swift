enum HeloGuardPlaceholder {}
