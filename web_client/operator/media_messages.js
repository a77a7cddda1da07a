// Texts of the console's media parts: the screen's playback on the wall, the browser camera.
import { addMessages } from "/static/shared/i18n.js";

addMessages({
  zh: {
    "wall.screen": "屏幕播放",
    "screen.state.playing": "正在播放",
    "screen.state.stalled": "画面停顿",
    "screen.state.idle": "无节目",
    "screen.state.silent": "屏幕无报告",
    "screen.sound.on": "有声音",
    "screen.sound.muted": "已静音",
    "screen.sound.none": "无声道",
  },
  en: {
    "wall.screen": "Screen",
    "screen.state.playing": "Playing",
    "screen.state.stalled": "Picture stalled",
    "screen.state.idle": "No programme",
    "screen.state.silent": "Screen not reporting",
    "screen.sound.on": "sound on",
    "screen.sound.muted": "muted",
    "screen.sound.none": "no audio",
  },
});
