//! The serde scene model a producer sends (through gRPC or a config file).
//!
//! Units: pixel values are output pixels; fractions are of the canvas; durations in ms.

use serde::{Deserialize, Serialize};

use crate::geometry::{Rect, Rgba};

/// Maximum number of video sources a grid (and any preset) may hold.
pub const MAX_SOURCES: usize = 16;

/// Everything that decides the picture, apart from the frames themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// The arrangement of inputs.
    pub layout: Layout,
    /// Styling applied to every input tile of a preset.
    #[serde(default)]
    pub style: Style,
    /// What is behind everything.
    #[serde(default)]
    pub background: Background,
    /// Images drawn over (or under) the inputs, e.g. a logo or a frame.
    #[serde(default)]
    pub overlays: Vec<Overlay>,
    /// Name tags on input tiles: None = the layout's default (on for PK, grid and
    /// spotlight; off for PiP and custom).
    #[serde(default)]
    pub name_tags: Option<bool>,
}

/// The arrangement of inputs on the canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Layout {
    /// PK 1v1: two halves side by side, with a band kept free for the score bar.
    Pk {
        /// Input shown on the left half.
        left: String,
        /// Input shown on the right half.
        right: String,
        /// The band reserved for the score bar / countdown.
        #[serde(default)]
        score_bar: ScoreBar,
        /// 2v2: the left team's second host (the left half splits into two rows).
        #[serde(default)]
        left_partner: Option<String>,
        /// 2v2: the right team's second host.
        #[serde(default)]
        right_partner: Option<String>,
        /// Tile aspect (w, h), each 1..=100; None = each half fills its share of the canvas
        /// (landscape) or 3:4 tiles (portrait canvas). With an aspect, the tiles and the
        /// band are stacked and centred vertically.
        #[serde(default)]
        tile_aspect: Option<(u32, u32)>,
    },
    /// Near-square grid of 0..=16 inputs, tiles keep `tile_aspect`, grid centred.
    Grid {
        /// Inputs in reading order (0..=16).
        inputs: Vec<String>,
        /// Tile aspect ratio as (w, h), each 1..=100_000; default 16:9.
        #[serde(default = "default_tile_aspect")]
        tile_aspect: (u32, u32),
    },
    /// One main input large, the others in a strip.
    Spotlight {
        /// The input in the spotlight.
        main: String,
        /// The others, in strip order (0..=15).
        #[serde(default)]
        others: Vec<String>,
        /// Where the strip goes.
        #[serde(default)]
        strip: StripSide,
        /// Fraction of the canvas (width for Right, height for Bottom) the strip takes, 0.1..=0.5.
        #[serde(default = "default_strip_frac")]
        strip_frac: f32,
    },
    /// Picture-in-picture: main input full canvas, insets stacked from a corner.
    Pip {
        /// Full-canvas input.
        main: String,
        /// Insets (1..=15), stacked vertically away from `corner`.
        insets: Vec<String>,
        /// Corner the insets start from.
        #[serde(default)]
        corner: Corner,
        /// Inset width as a fraction of the canvas width, 0.05..=0.5.
        #[serde(default = "default_pip_frac")]
        size_frac: f32,
        /// Margin from the canvas edges and between insets, pixels (rounded up to even).
        #[serde(default = "default_margin")]
        margin: u32,
    },
    /// Absolute rects chosen by the producer.
    Custom {
        /// The items (0..=16, distinct inputs), drawn by `z` then list order.
        items: Vec<CustomItem>,
    },
}

/// The band of a PK layout kept free for the score bar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreBar {
    /// Top or bottom of the canvas.
    #[serde(default)]
    pub position: BarPosition,
    /// Band height as a fraction of the canvas height, 0.0..=0.3 (0 = no band).
    pub height_frac: f32,
}

impl Default for ScoreBar {
    fn default() -> Self {
        Self {
            position: BarPosition::Top,
            height_frac: 0.08,
        }
    }
}

/// Top or bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarPosition {
    /// Band at the top.
    #[default]
    Top,
    /// Band at the bottom.
    Bottom,
}

/// Side of the spotlight strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripSide {
    /// Column on the right.
    #[default]
    Right,
    /// Row along the bottom.
    Bottom,
}

/// A canvas corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Corner {
    /// Top left.
    TopLeft,
    /// Top right.
    TopRight,
    /// Bottom left.
    BottomLeft,
    /// Bottom right.
    #[default]
    BottomRight,
}

/// How a source fills its cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Whole source visible, aspect kept, letterboxed inside the cell.
    Contain,
    /// Cell filled, aspect kept, source cropped (centred).
    #[default]
    Cover,
    /// Cell filled, aspect ignored.
    Stretch,
}

/// A solid border drawn inside the item's edge.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Border {
    /// Width in pixels, 0..=64.
    pub width: u32,
    /// Colour.
    pub color: Rgba,
}

/// Styling of input tiles in presets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Style {
    /// Gap between tiles and around the grid, pixels (0..=256; rounded up to even).
    #[serde(default)]
    pub gap: u32,
    /// Rounded corner radius, pixels (0..=512).
    #[serde(default)]
    pub corner_radius: u32,
    /// Border around each tile.
    #[serde(default)]
    pub border: Option<Border>,
    /// How each input fills its tile.
    #[serde(default)]
    pub fit: Fit,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            gap: 0,
            corner_radius: 0,
            border: None,
            fit: Fit::Cover,
        }
    }
}

/// Behind everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Background {
    /// A solid colour (alpha ignored).
    Color {
        /// The colour.
        color: Rgba,
    },
    /// A registered image, stretched with `Cover` over the canvas, over `color`.
    Image {
        /// Image id.
        image: String,
        /// Colour seen where the image is transparent.
        #[serde(default = "default_bg")]
        color: Rgba,
    },
}

impl Default for Background {
    fn default() -> Self {
        Background::Color {
            color: default_bg(),
        }
    }
}

/// An image placed on the canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overlay {
    /// Registered image id.
    pub image: String,
    /// Where, in output pixels.
    pub rect: Rect,
    /// 0..=1.
    #[serde(default = "one")]
    pub opacity: f32,
    /// Drawing order; presets put inputs at z = 0, so > 0 is above them.
    #[serde(default = "default_overlay_z")]
    pub z: i32,
    /// How the image fills `rect`.
    #[serde(default = "contain")]
    pub fit: Fit,
}

/// One item of a custom layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomItem {
    /// Input id.
    pub input: String,
    /// Where, in output pixels (must overlap the canvas; rounded to even pixels).
    pub rect: Rect,
    /// How the input fills `rect`.
    #[serde(default)]
    pub fit: Fit,
    /// Drawing order.
    #[serde(default)]
    pub z: i32,
    /// 0..=1.
    #[serde(default = "one")]
    pub opacity: f32,
    /// Rounded corner radius in pixels, 0..=512.
    #[serde(default)]
    pub corner_radius: u32,
    /// Optional border.
    #[serde(default)]
    pub border: Option<Border>,
}

/// How to move from the current picture to a new scene.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// 0..=10_000 ms; 0 = cut.
    pub duration_ms: u32,
    /// Easing curve.
    #[serde(default)]
    pub easing: Easing,
}

/// Easing curves for transitions.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Easing {
    /// Constant speed.
    Linear,
    /// Smooth start and end (cubic).
    #[default]
    EaseInOut,
    /// CSS-style cubic-bezier(x1, y1, x2, y2); x1, x2 in 0..=1.
    CubicBezier {
        /// First control point x.
        x1: f32,
        /// First control point y.
        y1: f32,
        /// Second control point x.
        x2: f32,
        /// Second control point y.
        y2: f32,
    },
}

fn default_tile_aspect() -> (u32, u32) {
    (16, 9)
}
fn default_strip_frac() -> f32 {
    0.25
}
fn default_pip_frac() -> f32 {
    0.25
}
fn default_margin() -> u32 {
    24
}
fn default_bg() -> Rgba {
    Rgba::new(16, 16, 24, 255)
}
fn default_overlay_z() -> i32 {
    100
}
fn one() -> f32 {
    1.0
}
fn contain() -> Fit {
    Fit::Contain
}
