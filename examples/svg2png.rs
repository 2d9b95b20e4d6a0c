//! Render SVG files to PNG with resvg, to look at plots without a browser:
//! `cargo run --example svg2png -- DIR_OR_FILE...` writes `name.png` beside each `name.svg`.
//! Text is drawn with the system's fonts (the SVG names only a generic family).

use resvg::{tiny_skia, usvg};
use std::path::{Path, PathBuf};

fn svgs(arg: &Path) -> Vec<PathBuf> {
    if arg.is_dir() {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(arg).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "svg"));
        v.sort();
        v
    } else {
        vec![arg.to_path_buf()]
    }
}

fn main() {
    let mut opt = usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    // Map the generic family to an installed font, whatever the system calls it.
    let family = opt.fontdb.faces().find_map(|f| f.families.first().map(|(name, _)| name.clone()));
    match family {
        Some(name) => {
            let sans = if opt.fontdb.faces().any(|f| f.families.iter().any(|(n, _)| n == "DejaVu Sans")) {
                "DejaVu Sans".into()
            } else {
                name
            };
            opt.fontdb_mut().set_sans_serif_family(sans);
        }
        None => eprintln!("svg2png: no system fonts found: text will be missing from the PNGs"),
    }
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        for svg in svgs(Path::new(&arg)) {
            let png = svg.with_extension("png");
            let r = std::fs::read(&svg)
                .map_err(|e| e.to_string())
                .and_then(|data| usvg::Tree::from_data(&data, &opt).map_err(|e| e.to_string()))
                .and_then(|tree| {
                    let size = tree.size().to_int_size();
                    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("empty image")?;
                    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
                    pixmap.save_png(&png).map_err(|e| e.to_string())
                });
            match r {
                Ok(()) => println!("{}", png.display()),
                Err(e) => {
                    eprintln!("svg2png: {}: {e}", svg.display());
                    failed = true;
                }
            }
        }
    }
    std::process::exit(i32::from(failed));
}
