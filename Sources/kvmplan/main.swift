print("kvmplan")
