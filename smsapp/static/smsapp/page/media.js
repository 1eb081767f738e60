/* A message's attachments in the page: thumbnails in a conversation's bubbles, every
   attachment in an inbox thread's bubbles, and the gallery of the message's detail.

   Only raster images (PNG, JPEG, GIF, WebP), sound and video are shown or opened: no
   browser runs them. Everything else (SVG, HTML, JavaScript, PDF, unknown types) is only
   ever a download link, never an <img>, a frame or a link that opens in the page's
   origin; the server serves those as octet-stream too (smsapp/services/media.py). */

import { api, el, enc, setSource } from "./core.js";

const SHOWN_IMAGES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/** "image", "video", "audio" or "download": how an attachment of this type is shown. */
function mediaKind(contentType) {
  const type = String(contentType || "").toLowerCase();
  if (SHOWN_IMAGES.indexOf(type) !== -1) return "image";
  if (type.indexOf("video/") === 0) return "video";
  if (type.indexOf("audio/") === 0) return "audio";
  return "download";
}

/** Pictures of an MMS as small thumbnails in its bubble in the Log's conversation, like a
    phone's messaging app (the list gives only a count, so the message's media list is
    read once). Selecting the bubble shows them full size in the detail. */
export function addThumbnails(sid, holder) {
  eachMedia(sid, function (item, i, all) {
    if (mediaKind(item.contentType) === "image") holder.appendChild(thumbnail(item, i, all.length, false));
  });
}

/** Every attachment of a message in its bubble in an inbox thread: pictures as
    thumbnails that open full size, sound and video with players, anything else as a
    download link (mediaNode). */
export function addAttachments(sid, holder) {
  eachMedia(sid, function (item, i, all) {
    const image = mediaKind(item.contentType) === "image";
    holder.appendChild(image ? thumbnail(item, i, all.length, true) : mediaNode(item, i, all.length));
  });
}

function eachMedia(sid, show) {
  api("message/" + enc(sid))
    .then(function (r) {
      (r.data.media || []).forEach(show);
    })
    .catch(function () {
      /* the bubble still says how many attachments there are */
    });
}

function thumbnail(item, index, count, linked) {
  const img = el("img", { cls: "thumb-sm", attrs: { alt: "Image " + (index + 1) + " of " + count, loading: "lazy" } });
  const link = linked ? el("a", { attrs: { target: "_blank", rel: "noopener" } }, [img]) : null;
  setSource(item.url, function (src) {
    img.src = src;
    if (link) link.href = src;
  });
  return link || img;
}

/** One media item: raster images as images (opening full size), video and audio with
    players, anything else only as a download link, never opened in the page's origin. */
export function mediaNode(item, index, count) {
  const type = String(item.contentType || "").toLowerCase();
  const kind = mediaKind(type);
  const what = "Attachment " + (index + 1) + " of " + count + " (" + (type || "unknown type") + ")";
  let node;
  if (kind === "image") {
    const img = el("img", { attrs: { alt: "Image: " + what, loading: "lazy" } });
    node = el("a", { cls: "thumb", attrs: { target: "_blank", rel: "noopener" } }, [img]);
    setSource(item.url, function (src) {
      img.src = src;
      node.href = src;
    });
  } else if (kind === "video" || kind === "audio") {
    node = el(kind, { attrs: { controls: "", preload: "metadata", "aria-label": what } });
    setSource(item.url, function (src) {
      node.src = src;
    });
  } else {
    node = el("a", { cls: "download", text: "Download " + what, attrs: { download: item.sid || "" } });
    setSource(
      item.url,
      function (src) {
        node.href = src;
      },
      true
    );
  }
  return node;
}
