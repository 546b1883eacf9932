from nadg.cli import main

main()
