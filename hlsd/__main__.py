from hlsd.cli import main

raise SystemExit(main())
