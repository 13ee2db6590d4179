# Read after tools/testing/selftests/kvm/Makefile by scripts/build-tool.sh:
# a program built with the KVM selftests' own CFLAGS, LDFLAGS and library,
# as that Makefile builds a test (-I$(<D) is the program's directory).
#   TOOL=the program to make  TOOL_SRCS=its .c files (absolute paths)
$(TOOL): $(TOOL_SRCS) $(LIBKVM_OBJS)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_ARCH) $(TOOL_SRCS) $(LIBKVM_OBJS) $(LDLIBS) -o $@
