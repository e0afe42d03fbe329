enum MilterTestingPlaceholder {}
