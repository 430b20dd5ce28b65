// Nothing to import: CVirtLoader defines libvirt's functions themselves (see VirtLoader.c);
// TetherLibvirt calls them through CVirt's declarations.
